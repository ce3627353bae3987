"""The domain: documents, cases, retention, sample forms, signatory lists, accounts."""
