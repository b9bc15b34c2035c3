SCHEDULES = [
    {"name": "credits.expire_credits", "task": "credits.tasks.expire_credits",
     "crontab": {"minute": "7"}},
    {"name": "credits.check_invariant", "task": "credits.tasks.check_invariant",
     "crontab": {"minute": "30", "hour": "3"}},
]
