-- Evaluation reads are scoped by collection: a caller sees the runs, gold sets and experiments of the collections
-- it may read. Runs (base_collection) and gold sets (collection) say theirs already; experiments get one, filled
-- from what they know: their runs' collection, the experiment file's, their gold set's, else the default 'demo'.
CREATE INDEX eval_runs_base_collection ON eval_runs (base_collection);
ALTER TABLE eval_experiments ADD COLUMN collection VARCHAR;
UPDATE eval_experiments SET collection = coalesce(
    (SELECT min(r.base_collection) FROM eval_runs r WHERE r.experiment_id = eval_experiments.id),
    nullif(json_extract_string(config, '$.collection'), ''),
    (SELECT g.collection FROM eval_gold_sets g WHERE g.name = eval_experiments.gold_set),
    'demo');
