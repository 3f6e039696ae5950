"""Deployment to AWS: merge template, packaging, SAM -> CloudFormation translation (docs/DEPLOY.md)."""
