"""twm-gym: the Telecom World Models network-slicing twin, its environments and benchmark."""

__version__ = "0.1.0"
