"""`balancerd import`: guests exported from another hypervisor (VMware VMX / OVF / OVA, Hyper-V VHD / VHDX with
a small spec) read, placed by the optimizer, converted with qemu-img, uploaded into a host's storage pool and
defined there (issue 22). The parsers are pure functions over text; files and processes stay at the edges."""
