"""placeholder"""
Ticker = Timer = after = after_func = None
