/**
 * Told how long each group commit of a store took, in seconds: one transaction with every write
 * issued meanwhile, from its start to COMMIT. (Metrics: the stores know no metrics library.)
 */
export type CommitHook = (seconds: number) => void;
