-- Hands each process that opens the database the next id node number (modulo 1024), so that
-- processes sharing the database generate distinct ids.
CREATE TABLE id_node_counter (
    next_node BIGINT NOT NULL
);
INSERT INTO id_node_counter (next_node) VALUES (0);
