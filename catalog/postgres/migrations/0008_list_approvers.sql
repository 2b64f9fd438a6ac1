-- The approvers of a page of proposals (catalog.Pages: a page lists who
-- approved, not the signed approvals) from an index that holds them: an
-- index-only scan, the approvals rows with their envelopes not read.
CREATE INDEX IF NOT EXISTS approvals_approvers ON approvals(proposal, log_index) INCLUDE (approver);
