CREATE OR REPLACE FUNCTION refresh_product_min_prices(product_ids BIGINT[]) RETURNS VOID LANGUAGE sql AS $$
    DELETE FROM product_min_prices WHERE product_id = ANY (product_ids);
    INSERT INTO product_min_prices (product_id, currency_code, amount)
    SELECT v.product_id, pr.currency_code, min(pr.amount)
    FROM product_variants v JOIN prices pr ON pr.variant_id = v.id
    WHERE v.product_id = ANY (product_ids) AND v.deleted_at IS NULL
    GROUP BY v.product_id, pr.currency_code;
$$;
CREATE OR REPLACE FUNCTION variants_changed() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        PERFORM refresh_product_min_prices(ARRAY(
            SELECT product_id FROM new_rows UNION SELECT product_id FROM old_rows));
    ELSE
        PERFORM refresh_product_min_prices(ARRAY(SELECT DISTINCT product_id FROM old_rows));
    END IF;
    RETURN NULL;
END $$;
