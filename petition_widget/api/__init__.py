"""The public REST API: Change.org-shaped signatures and petitions of the locally stored petitions."""
