"""What this machine's CPU offers, for tests of the paths the C builds pick when they load."""


def cpu_has(flag: str) -> bool:
    """True if /proc/cpuinfo lists the flag (Linux names: avx_vnni, avx512_vnni, amx_int8, ...)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            return any(line.startswith("flags") and flag in line.split() for line in info)
    except OSError:
        return False
