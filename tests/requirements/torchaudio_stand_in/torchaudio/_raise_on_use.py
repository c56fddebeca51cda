"""Shared by every module of the stand-in: any attribute looked up on it raises, naming why."""

MESSAGE = ("torchaudio stand-in (test venv only, installed by scripts/test.sh): the package index has no torchaudio "
           "for the CPU torch the tests pin, and SDXL never uses audio; install the real torchaudio matching your "
           "torch to use audio nodes")


def attribute_error_for(module_name):
    def __getattr__(name):
        if name.startswith("__"):
            raise AttributeError(name)
        raise NotImplementedError(f"{module_name}.{name}: {MESSAGE}")
    return __getattr__
