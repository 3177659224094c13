"""The webhook intake: signed Stripe, DocuSign and CRM events in, one durable run each out."""
