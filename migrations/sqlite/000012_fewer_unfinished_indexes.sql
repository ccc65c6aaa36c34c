-- SQLite serves one node: the engine knows which operations it runs and which targets they act on,
-- so it never asks the store by owner or by target on a busy path (renewLeases and unfinishedTargets
-- are PostgreSQL's, with several nodes). Every operation's insert and finish paid for these two
-- indexes; the store's queries by owner or target still answer, from operations_unfinished (the
-- operations in flight only).
DROP INDEX operations_leased;
DROP INDEX operations_unfinished_by_target;
