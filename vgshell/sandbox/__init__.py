"""Sandbox runtimes: the runtime-neutral spec, the per-runtime adapters and the package caches."""
