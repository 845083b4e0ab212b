# ---- run queue and idle-worker stack for go() (issue: goroutines) ----
