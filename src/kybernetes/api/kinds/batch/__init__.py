"""batch/v1: Jobs and CronJobs, one module per kind."""
