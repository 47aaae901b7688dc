// Boots GraphiQL from assets served by this server (no CDN), so it works offline and under a
// strict Content-Security-Policy that forbids inline scripts.
(function () {
  var wsScheme = window.location.protocol === 'https:' ? 'wss://' : 'ws://';
  // Subscriptions are staff-only: the token travels in connection_init. Set it once with
  // localStorage.setItem('techpotli.adminToken', '<token from adminLogin>') and reload.
  var fetcher = GraphiQL.createFetcher({
    url: window.location.origin + '/graphql',
    subscriptionUrl: wsScheme + window.location.host + '/graphql/ws',
    wsConnectionParams: function () {
      var token = window.localStorage.getItem('techpotli.adminToken');
      return token ? { Authorization: 'Bearer ' + token } : {};
    },
  });
  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultEditorToolsVisibility: true,
      defaultQuery:
        '# Techpotli storefront API\n' +
        'query Home {\n  heroBanners { id title ctaText linkUrl }\n' +
        '  regions { id name currencyCode }\n' +
        '  products(first: 5) {\n    totalCount\n    edges { cursor node { handle title variants { title sku prices { amount currencyCode decimal } } } }\n' +
        '    pageInfo { hasNextPage endCursor }\n  }\n}\n',
    }),
  );
})();
