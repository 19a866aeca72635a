from creatix.cli import main

main()
