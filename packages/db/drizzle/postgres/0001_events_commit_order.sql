-- Event ids in commit order (docs/architecture.md, "PostgreSQL"). A plain
-- sequence hands ids out at INSERT time, so a transaction that took id 5 can commit after
-- one that took id 6, and a reader that already passed 6 would never see 5. Here every
-- insert into events first takes one transaction-scoped advisory lock, held until COMMIT or
-- ROLLBACK: no other transaction can take an id in between, so ids commit in order (holes
-- only from rollbacks). CACHE 1: per-session caches would hand out ids out of order.
CREATE SEQUENCE "events_id_seq" AS bigint CACHE 1;
--> statement-breakpoint
ALTER SEQUENCE "events_id_seq" OWNED BY "events"."id";
--> statement-breakpoint
CREATE FUNCTION "events_assign_id"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- Key 4672823917202001: "dormant.events.append" (postgres/client.ts EVENTS_APPEND_LOCK).
  PERFORM pg_advisory_xact_lock(4672823917202001);
  NEW.id := nextval('events_id_seq');
  RETURN NEW;
END $$;
--> statement-breakpoint
CREATE TRIGGER "events_assign_id" BEFORE INSERT ON "events"
  FOR EACH ROW EXECUTE FUNCTION "events_assign_id"();
