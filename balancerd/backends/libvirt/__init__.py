"""The real backend: libvirt daemons over their URIs. :mod:`.cluster` is balancerd's one importer of ``libvirt``.

Nothing is re-exported here, so importing a helper module (``parse``, ``domxml``, ``errors``, ...) never loads the
bindings; callers import :class:`~balancerd.backends.libvirt.cluster.LibvirtCluster` from its module.
"""
