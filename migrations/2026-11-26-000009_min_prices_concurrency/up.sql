-- Checkouts update variants (stock) of one product at the same time. Two fixes to the
-- product_min_prices triggers of 2026-11-25-000002, which refreshed a product's minimum on every
-- variant update with DELETE + INSERT: two transactions refreshing one product could both insert
-- the same key (a unique violation after the first committed).
-- 1. A refresh upserts, then deletes what has no price any more: concurrent refreshes never
--    collide on the key.
CREATE OR REPLACE FUNCTION refresh_product_min_prices(product_ids BIGINT[]) RETURNS VOID LANGUAGE sql AS $$
    INSERT INTO product_min_prices (product_id, currency_code, amount)
    SELECT v.product_id, pr.currency_code, min(pr.amount)
    FROM product_variants v JOIN prices pr ON pr.variant_id = v.id
    WHERE v.product_id = ANY (product_ids) AND v.deleted_at IS NULL
    GROUP BY v.product_id, pr.currency_code
    ON CONFLICT (product_id, currency_code) DO UPDATE SET amount = EXCLUDED.amount;
    DELETE FROM product_min_prices m
    WHERE m.product_id = ANY (product_ids) AND NOT EXISTS (
        SELECT 1 FROM product_variants v JOIN prices pr ON pr.variant_id = v.id
        WHERE v.product_id = m.product_id AND pr.currency_code = m.currency_code
          AND v.deleted_at IS NULL);
$$;

-- 2. Only an update that can change a minimum (a variant soft-deleted, restored or moved) refreshes
--    it; stock and title changes do not touch product_min_prices at all.
CREATE OR REPLACE FUNCTION variants_changed() RETURNS TRIGGER LANGUAGE plpgsql AS $$
DECLARE
    ids BIGINT[];
BEGIN
    IF TG_OP = 'UPDATE' THEN
        ids := ARRAY(
            SELECT n.product_id FROM new_rows n JOIN old_rows o ON o.id = n.id
            WHERE n.deleted_at IS DISTINCT FROM o.deleted_at OR n.product_id <> o.product_id
            UNION
            SELECT o.product_id FROM new_rows n JOIN old_rows o ON o.id = n.id
            WHERE n.deleted_at IS DISTINCT FROM o.deleted_at OR n.product_id <> o.product_id);
    ELSE
        ids := ARRAY(SELECT DISTINCT product_id FROM old_rows);
    END IF;
    IF cardinality(ids) > 0 THEN
        PERFORM refresh_product_min_prices(ids);
    END IF;
    RETURN NULL;
END $$;
