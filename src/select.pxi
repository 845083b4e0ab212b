# ---- select over channel cases (issue: channels) ----
