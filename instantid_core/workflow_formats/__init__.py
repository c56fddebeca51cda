"""Workflow files: the frontend's UI graph, the widget layout of node definitions, model names as listed by
ComfyUI, and the converter for cubiq/ComfyUI_InstantID workflows."""
