"""The OCI Protection page: what the nightly backup protects, how recently a restore was proven, and what it misses.

`catalogue` reads OCI (volumes, backups and their verification tags, DR copies, images, instances) and Airflow's
metadata (the nightly runs and their reports); `view` joins them into rows; `snapshots` caches them so a slow or
failing OCI call serves the last data with its time; `render` writes HTML with inline SVG, and CSV; `app` is the
FastAPI app the plugin mounts at /oci, behind Airflow's own auth.
"""
