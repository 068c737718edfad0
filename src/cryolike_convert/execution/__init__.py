"""Executing a conversion: up-front checks, planning, the per-stack worker, executors."""
