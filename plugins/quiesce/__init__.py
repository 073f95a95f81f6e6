"""Application-consistent backups: a database or filesystem on a volume is quiesced around OCI's point in time
(docs/quiesce.md). spec.py parses and checks what a volume's `backup-quiesce` tag or a policy asks for (pure);
statements.py holds each database's statements and how their answers are read (pure); quiescers.py enters and
leaves each kind of application's backup mode; bracket.py opens them before the backup is requested and closes
them once OCI has taken the point in time; evidence.py puts the outcome into words (pure)."""
