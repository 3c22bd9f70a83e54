"""The shipped process and decision files. This folder is installed as the package
``retailflow.processes`` (see setup.py), so the demo, ``retailflow validate`` and
``retailflow.retail:registry`` find the files in a wheel as in a checkout:
``retailflow.retail.shipped_processes()`` is the directory."""
