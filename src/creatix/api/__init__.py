"""One module per dialect: parse wire → canonical, render canonical → wire, errors."""
