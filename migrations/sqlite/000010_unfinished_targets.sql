-- AIP-128 `reconciling`: whether an unfinished operation acts on a resource, looked up by target
-- among the unfinished operations only (the index stays as small as the work in flight).
CREATE INDEX operations_unfinished_by_target ON operations (target) WHERE done = 0;
