"""The hosted chat page's deployment (template.yaml, CreateWebPage=true): see webpage.deploy."""
