"""The training program DeepSpeed launches (`deepspeed -m training --config run.yaml`).

It never imports prefect: everything it needs comes from one YAML file the flow writes.
"""
