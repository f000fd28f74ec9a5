"""The gateway: the Job API (JobService), authentication, request limits."""
