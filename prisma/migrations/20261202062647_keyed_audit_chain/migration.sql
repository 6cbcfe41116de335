-- CreateTable
CREATE TABLE "audit_chain" (
    "id" INTEGER NOT NULL DEFAULT 1,
    "legacy_through_id" INTEGER NOT NULL,

    CONSTRAINT "audit_chain_pkey" PRIMARY KEY ("id")
);

-- The rows written so far were chained with the unkeyed SHA-256, later ones are HMAC'd. `audit verify` checks each
-- part with its own function, and the signed head covers this boundary, so moving it is detected.
INSERT INTO "audit_chain" ("id", "legacy_through_id") SELECT 1, COALESCE(MAX("id"), 0) FROM "audit_log";

-- The application only ever appends. Every role but the owner of the tables loses the rights to rewrite or remove
-- audit rows (the application's role among them when it is not the owner: run the app as a non-owner for this to hold,
-- the owner keeps them and can always grant them back). Grants made later are not undone: give the app role only
-- SELECT, INSERT on audit_log and SELECT on audit_chain, and `audit verify` warns when it can still rewrite.
-- The block is an E'' string with every semicolon written as \073: the migration runner splits scripts at each one.
DO E'
DECLARE
  grantee text\073
BEGIN
  FOR grantee IN
    SELECT DISTINCT CASE WHEN acl.grantee = 0 THEN ''PUBLIC'' ELSE quote_ident(pg_get_userbyid(acl.grantee)) END
    FROM pg_class c, aclexplode(c.relacl) acl
    WHERE c.oid IN (''audit_log''::regclass, ''audit_chain''::regclass)
      AND acl.grantee <> c.relowner
      AND acl.privilege_type IN (''UPDATE'', ''DELETE'', ''TRUNCATE'')
  LOOP
    EXECUTE format(''REVOKE UPDATE, DELETE, TRUNCATE ON audit_log, audit_chain FROM %s'', grantee)\073
  END LOOP\073
  -- A non-owner running the migration can only give up what it holds with grant option: say so instead of failing.
  IF (SELECT relowner FROM pg_class WHERE oid = ''audit_log''::regclass) <> (SELECT oid FROM pg_roles WHERE rolname = current_user)
     AND has_table_privilege(current_user, ''audit_log'', ''UPDATE, DELETE, TRUNCATE'') THEN
    RAISE WARNING ''role % can still UPDATE, DELETE or TRUNCATE audit_log: ask the owner to REVOKE them'', current_user\073
  END IF\073
END
';
