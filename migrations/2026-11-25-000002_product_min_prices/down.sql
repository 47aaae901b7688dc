DROP TRIGGER product_variants_deleted ON product_variants;
DROP TRIGGER product_variants_updated ON product_variants;
DROP FUNCTION variants_changed();
DROP TRIGGER prices_deleted ON prices;
DROP TRIGGER prices_updated ON prices;
DROP TRIGGER prices_inserted ON prices;
DROP FUNCTION prices_changed();
DROP FUNCTION refresh_product_min_prices(BIGINT[]);
DROP TABLE product_min_prices;
