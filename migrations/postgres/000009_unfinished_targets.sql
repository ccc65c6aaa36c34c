-- AIP-128 `reconciling` with several nodes: whether an unfinished operation, run by any node,
-- acts on a resource, looked up by target among the unfinished operations only.
CREATE INDEX operations_unfinished_by_target ON operations (target) WHERE NOT done;
