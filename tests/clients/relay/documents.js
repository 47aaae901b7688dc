// Storefront and staff documents as a Relay app writes them; relay-compiler turns them into
// artifacts under __generated__/ that relay.test.js runs (the tags are never evaluated).
/* global graphql */

graphql`
  fragment documents_product on Product @refetchable(queryName: "ProductRefetchQuery") {
    id
    handle
    title
    variants { id sku title }
  }
`;

graphql`
  query documentsStoreQuery($first: Int!) {
    products(first: $first) @connection(key: "Store_products") {
      edges { node { id ...documents_product } }
    }
    collections(first: 3) @connection(key: "Store_collections") {
      edges {
        node {
          id
          title
          products(first: 2) @connection(key: "Collection_products") { edges { node { id title } } }
        }
      }
    }
    categories { id name products(first: 2) @connection(key: "Category_products") { edges { node { id } } } }
    heroBanners { id title }
  }
`;

graphql`
  fragment documents_adminProduct on AdminProduct @refetchable(queryName: "AdminProductRefetchQuery") {
    id
    handle
    title
    status
  }
`;

graphql`
  fragment documents_adminHeroBanner on AdminHeroBanner @refetchable(queryName: "AdminHeroBannerRefetchQuery") {
    id
    title
    isActive
  }
`;

graphql`
  query documentsStaffQuery($first: Int!) {
    adminProducts(first: $first) @connection(key: "Staff_adminProducts") {
      edges { node { id ...documents_adminProduct } }
    }
    adminHeroBanners(first: 10) @connection(key: "Staff_adminHeroBanners") {
      edges { node { id ...documents_adminHeroBanner } }
    }
  }
`;

graphql`
  subscription documentsBannerSubscription {
    bannerUpdated { id bannerId ids action }
  }
`;
