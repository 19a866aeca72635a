"""Generation engines behind one small protocol; the only place pixels are made."""
