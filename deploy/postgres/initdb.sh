#!/bin/sh
# First start of the PostgreSQL container (/docker-entrypoint-initdb.d): the two roles of
# README "Database roles" and the database, owned by the owner role. The superuser
# (POSTGRES_USER) is used for nothing else. pgvector is created here because only a superuser
# may; migrations then find it.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
     -v owner_password="$OWNER_DB_PASSWORD" -v app_password="$APP_DB_PASSWORD" <<'SQL'
CREATE ROLE billing_owner LOGIN PASSWORD :'owner_password';
CREATE ROLE billing_app LOGIN PASSWORD :'app_password';
CREATE DATABASE billing OWNER billing_owner;
REVOKE ALL ON DATABASE billing FROM PUBLIC;
GRANT CONNECT ON DATABASE billing TO billing_app;
\connect billing
ALTER SCHEMA public OWNER TO billing_owner;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO billing_app;
CREATE EXTENSION IF NOT EXISTS vector;
SQL
