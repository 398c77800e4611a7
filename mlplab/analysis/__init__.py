"""Analysis: pure functions on what training produced (histories, outcomes, stored run
records): the status and result rules, the evaluation, run comparison, the sweep table
and the doctor. Nothing here opens a Store or trains."""
