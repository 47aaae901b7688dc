// Boots GraphiQL from assets served by this server (no CDN), so it works offline and under a
// strict Content-Security-Policy that forbids inline scripts.
//
// Staff sign in with the form above the editor (adminLogin); the token is kept in
// localStorage['techpotli.adminToken'] (setting it by hand and reloading works too). Queries and
// mutations then carry `Authorization: Bearer <token>` (a header typed in the Headers pane wins),
// and subscriptions send it in graphql-transport-ws's connection_init. A socket the server closes
// with 4401 (no or expired token) or 4403 (not staff) is reported in the result pane and above.
(function () {
  var TOKEN_KEY = 'techpotli.adminToken';
  var statusEl = document.getElementById('staff-status');
  var signOut = document.getElementById('staff-sign-out');

  function token() {
    return window.localStorage.getItem(TOKEN_KEY);
  }

  function show(message, isError) {
    statusEl.textContent = message;
    statusEl.className = isError ? 'error' : '';
  }

  function showSignedIn() {
    var signedIn = !!token();
    signOut.hidden = !signedIn;
    show(signedIn ? 'Signed in as staff: admin queries and subscriptions allowed.'
                  : 'Not signed in: store queries only.', false);
  }

  function headerValue(headers, name) {
    if (!headers) return undefined;
    var wanted = name.toLowerCase();
    for (var key in headers) {
      if (Object.prototype.hasOwnProperty.call(headers, key) && key.toLowerCase() === wanted) {
        return headers[key];
      }
    }
    return undefined;
  }

  // The Authorization of a request: the Headers pane's when it has one (an empty value sends
  // none), else the signed-in token's.
  function authorization(opts) {
    var typed = headerValue(opts && opts.headers, 'Authorization');
    if (typed !== undefined) return typed || undefined;
    var t = token();
    return t ? 'Bearer ' + t : undefined;
  }

  function isSubscription(params) {
    var text = (params.query || '').replace(/#[^\n]*/g, '');
    if (params.operationName) {
      return new RegExp('\\bsubscription\\s+' + params.operationName + '\\b').test(text);
    }
    return /^\s*subscription\b/.test(text);
  }

  function httpFetch(params, opts) {
    // One value per header, whatever the case it was typed in.
    var headers = {};
    var typed = (opts && opts.headers) || {};
    for (var key in typed) {
      if (Object.prototype.hasOwnProperty.call(typed, key)) headers[key.toLowerCase()] = typed[key];
    }
    if (!headers['content-type']) headers['content-type'] = 'application/json';
    if (!headers.accept) headers.accept = 'application/graphql-response+json, application/json';
    var auth = authorization(opts);
    if (auth) headers.authorization = auth;
    else delete headers.authorization;
    return fetch(window.location.origin + '/graphql', {
      method: 'POST',
      headers: headers,
      body: JSON.stringify(params),
    }).then(function (response) {
      return response.json();
    });
  }

  var CLOSE_REASONS = {
    4401: 'The server refused the subscription (4401 Unauthorized): sign in as staff above (or your token expired).',
    4403: 'The server refused the subscription (4403 Forbidden): this account may not subscribe.',
    4408: 'The server closed the subscription: no connection_init in time (4408).',
  };

  // One graphql-transport-ws connection per subscription, as an observable GraphiQL renders.
  function subscribe(params, opts) {
    return {
      subscribe: function (observer) {
        var scheme = window.location.protocol === 'https:' ? 'wss://' : 'ws://';
        var socket = new WebSocket(scheme + window.location.host + '/graphql/ws', 'graphql-transport-ws');
        var done = false;
        function finish(error) {
          if (done) return;
          done = true;
          if (error) observer.next({ errors: [{ message: error }] });
          observer.complete();
          if (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING) {
            socket.close(1000);
          }
        }
        socket.onopen = function () {
          if (done) return socket.close(1000);
          var auth = authorization(opts);
          socket.send(JSON.stringify({ type: 'connection_init', payload: auth ? { Authorization: auth } : {} }));
        };
        socket.onmessage = function (event) {
          if (done) return;
          var message;
          try {
            message = JSON.parse(event.data);
          } catch (e) {
            return finish('The server sent something that is not JSON.');
          }
          if (message.type === 'connection_ack') {
            socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: params }));
          } else if (message.type === 'next') {
            observer.next(message.payload);
          } else if (message.type === 'error') {
            // An `error` ends the operation (graphql-transport-ws).
            observer.next({ errors: message.payload });
            finish();
          } else if (message.type === 'complete') {
            finish();
          } else if (message.type === 'ping') {
            socket.send(JSON.stringify({ type: 'pong' }));
          }
        };
        socket.onclose = function (event) {
          var reason = CLOSE_REASONS[event.code];
          if (reason && !done) show(reason, true);
          finish(reason || (event.code === 1000 ? null : 'The subscription closed (' + event.code + (event.reason ? ' ' + event.reason : '') + ').'));
        };
        return {
          unsubscribe: function () {
            if (!done && socket.readyState === WebSocket.OPEN) {
              socket.send(JSON.stringify({ id: '1', type: 'complete' }));
            }
            done = true;
            if (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING) {
              socket.close(1000);
            }
          },
        };
      },
    };
  }

  function fetcher(params, opts) {
    return isSubscription(params) ? subscribe(params, opts) : httpFetch(params, opts);
  }

  document.getElementById('staff').addEventListener('submit', function (event) {
    event.preventDefault();
    var email = document.getElementById('staff-email').value;
    var password = document.getElementById('staff-password').value;
    show('Signing in…', false);
    httpFetch({
      query: 'mutation SignIn($email: String!, $password: String!) { adminLogin(email: $email, password: $password) { token } }',
      variables: { email: email, password: password },
      operationName: 'SignIn',
    }, { headers: {} }).then(function (result) {
      var login = result && result.data && result.data.adminLogin;
      if (login && login.token) {
        window.localStorage.setItem(TOKEN_KEY, login.token);
        document.getElementById('staff-password').value = '';
        showSignedIn();
      } else {
        var message = result && result.errors && result.errors[0] ? result.errors[0].message : 'sign-in failed';
        show('Sign-in failed: ' + message, true);
      }
    }, function () {
      show('Sign-in failed: the server did not answer.', true);
    });
  });
  signOut.addEventListener('click', function () {
    window.localStorage.removeItem(TOKEN_KEY);
    showSignedIn();
  });
  showSignedIn();

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
