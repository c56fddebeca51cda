"""Model files on disk: the adapter file format, the antelopev2 pack, the download catalog, what kind a file is,
and the doctor that checks an installation."""
