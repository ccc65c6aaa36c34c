-- A listing of one collection under every parent (ResourceQuery without `parent`): the server's
-- own sweeps, such as the one that ends an InsightsConfig's discovery, find their few resources
-- among everyone else's without reading the whole table.
CREATE INDEX resources_by_collection ON resources (collection, seq);
