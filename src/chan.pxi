# ---- Chan: buffered ring + waiter queues (issue: channels) ----
