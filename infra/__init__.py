"""The Fala CDK app: config, the stack, and one construct per capability."""
