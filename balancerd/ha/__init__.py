"""Two or more cluster heads on etcd (``[ha]``): leadership from a lease, fenced move starts, shared records.

Used by :mod:`balancerd.service.heads` only; a single head (no ``[ha]``) never imports it.
"""
