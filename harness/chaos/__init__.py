"""Reusable parts of the chaos suite: the fault list and how a case runs, targets that record fault windows in
a history (or stand for an external service), and the Hypothesis state machine over fault schedules."""
