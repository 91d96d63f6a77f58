"""The sandbox's Stigg: a stateful emulator of Stigg's GraphQL API."""
