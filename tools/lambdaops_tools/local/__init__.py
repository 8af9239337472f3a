"""The local stack: moto in-process plus the pieces moto cannot run (see `local_runtime`)."""
