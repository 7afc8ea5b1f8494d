-- A sample organisation's own databases, for trying the portal's
-- fulfilment: a newsletter list and a small shop. Create it with
--   go run ./examples/mkorg data/org.db
CREATE TABLE IF NOT EXISTS subscribers (
  id INTEGER PRIMARY KEY,
  email TEXT NOT NULL,
  name TEXT NOT NULL,
  newsletter_opt_in INTEGER NOT NULL DEFAULT 1,
  restricted INTEGER NOT NULL DEFAULT 0,
  subscribed_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS customers (
  id INTEGER PRIMARY KEY,
  email TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  address TEXT NOT NULL,
  marketing_opt_in INTEGER NOT NULL DEFAULT 1,
  restricted INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS orders (
  id INTEGER PRIMARY KEY,
  customer_email TEXT NOT NULL REFERENCES customers(email),
  item TEXT NOT NULL,
  total_cents INTEGER NOT NULL,
  ordered_at TEXT NOT NULL
);
INSERT INTO subscribers (email, name, subscribed_at) VALUES
  ('jane@example.com', 'Jane Doe', '2025-03-01T09:00:00Z'),
  ('max@example.com', 'Max Mustermann', '2025-05-12T17:30:00Z');
INSERT INTO customers (email, name, address, created_at) VALUES
  ('jane@example.com', 'Jane Doe', '1 Example Street, Exampletown', '2024-11-20T10:00:00Z'),
  ('max@example.com', 'Max Mustermann', 'Musterweg 2, Musterstadt', '2025-01-02T08:15:00Z');
INSERT INTO orders (customer_email, item, total_cents, ordered_at) VALUES
  ('jane@example.com', 'Blue teapot', 2990, '2025-02-14T12:00:00Z'),
  ('jane@example.com', 'Green cups (4)', 1850, '2025-06-01T15:20:00Z'),
  ('max@example.com', 'Red kettle', 4200, '2025-04-04T09:45:00Z');
