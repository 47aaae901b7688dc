// The admin console: hero banners with optimistic changes, skeletons while loading, and live
// updates over graphql-transport-ws. Framework-free; talks only to /graphql and /graphql/ws.
(function () {
  'use strict';

  var TOKEN_KEY = 'techpotli.console.token';
  var MAX_IMAGE_BYTES = 5 * 1024 * 1024; // the server's default UPLOAD_MAX_BYTES; it checks again
  var IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'image/avif'];
  var FIELDS = 'id title subtitle imageUrl linkUrl ctaText isActive sortOrder startsAt endsAt isLive';

  var state = { banners: [], gone: {}, editing: null, socket: null, retry: 0, retryTimer: null, previewUrl: null };
  var tempIds = 0;

  function $(id) { return document.getElementById(id); }
  function token() { return window.sessionStorage.getItem(TOKEN_KEY); }

  function notice(message, isError) {
    var el = $('notice');
    el.textContent = message || '';
    el.className = 'notice' + (isError ? ' error' : '');
    el.hidden = !message;
  }

  // ---- API ----------------------------------------------------------------------------------
  function apiError(body) {
    var first = body.errors[0];
    var error = new Error(first.message);
    error.code = first.extensions && first.extensions.code;
    if (error.code === 'UNAUTHENTICATED') {
      if (token()) signOut('Your session has expired. Please sign in again.');
      error.signedOut = true;
    }
    return error;
  }

  function gql(query, variables) {
    var headers = { 'content-type': 'application/json', accept: 'application/json' };
    if (token()) headers.authorization = 'Bearer ' + token();
    return fetch('/graphql', { method: 'POST', headers: headers, body: JSON.stringify({ query: query, variables: variables || {} }) })
      .then(readJson)
      .then(function (body) {
        if (body.errors && body.errors.length) throw apiError(body);
        return body.data;
      });
  }

  function readJson(response) {
    return response.json().catch(function () {
      throw new Error('the server answered HTTP ' + response.status);
    });
  }

  // The GraphQL multipart request spec (one file).
  function upload(file) {
    var form = new FormData();
    form.append('operations', JSON.stringify({
      query: 'mutation($file: Upload!) { uploadHeroBannerImage(file: $file) }',
      variables: { file: null },
    }));
    form.append('map', JSON.stringify({ 0: ['variables.file'] }));
    form.append('0', file, file.name);
    return fetch('/graphql', {
      method: 'POST',
      headers: { authorization: 'Bearer ' + token(), 'apollo-require-preflight': 'true', accept: 'application/json' },
      body: form,
    })
      .then(readJson)
      .then(function (body) {
        if (body.errors && body.errors.length) throw apiError(body);
        return body.data.uploadHeroBannerImage;
      });
  }

  // ---- Views --------------------------------------------------------------------------------
  function showView(name) {
    $('login-view').hidden = name !== 'login';
    $('banners-view').hidden = name !== 'banners';
    $('sign-out').hidden = name !== 'banners';
    $('connection').hidden = name !== 'banners';
  }

  function signOut(message) {
    window.sessionStorage.removeItem(TOKEN_KEY);
    disconnect();
    state.retry = 0;
    state.banners = [];
    state.gone = {};
    $('activity').textContent = '';
    if ($('editor').open) $('editor').close();
    showView('login');
    notice(message || '', !!message);
    $('login-email').focus();
  }

  $('login').addEventListener('submit', function (event) {
    event.preventDefault();
    notice('');
    gql('mutation($e: String!, $p: String!) { adminLogin(email: $e, password: $p) { token } }', {
      e: $('login-email').value,
      p: $('login-password').value,
    }).then(function (data) {
      window.sessionStorage.setItem(TOKEN_KEY, data.adminLogin.token);
      $('login-password').value = '';
      start();
    }, function (error) {
      notice('Sign-in failed: ' + error.message, true);
    });
  });
  $('sign-out').addEventListener('click', function () { signOut(); });

  function start() {
    showView('banners');
    load();
    connect();
  }

  // ---- The banner table -----------------------------------------------------------------------
  function sorted() {
    return state.banners.slice().sort(function (a, b) { return a.sortOrder - b.sortOrder || String(a.id).localeCompare(String(b.id)); });
  }

  function skeletonRows(n) {
    var rows = $('rows');
    rows.textContent = '';
    rows.setAttribute('aria-busy', 'true');
    for (var i = 0; i < n; i++) {
      var tr = document.createElement('tr');
      tr.className = 'skeleton-row';
      ['', 'thumb-s', '', '', '', ''].forEach(function (kind) {
        var td = document.createElement('td');
        var bar = document.createElement('span');
        bar.className = 'skeleton ' + kind;
        td.appendChild(bar);
        tr.appendChild(td);
      });
      rows.appendChild(tr);
    }
  }

  function load() {
    skeletonRows(5);
    return gql('{ adminHeroBanners(first: 100) { edges { node { ' + FIELDS + ' } } } }').then(function (data) {
      state.banners = data.adminHeroBanners.edges.map(function (e) { return e.node; });
      render();
    }, function (error) {
      if (!error.signedOut) notice('Could not load the banners: ' + error.message, true);
    });
  }

  function windowText(b) {
    var fmt = function (iso) { return iso ? new Date(iso).toLocaleString() : '…'; };
    if (!b.startsAt && !b.endsAt) return 'always';
    return fmt(b.startsAt) + ' – ' + fmt(b.endsAt);
  }

  function cell(tr, content) {
    var td = document.createElement('td');
    if (typeof content === 'string') td.textContent = content; else if (content) td.appendChild(content);
    tr.appendChild(td);
    return td;
  }

  function button(label, onClick, extra) {
    var b = document.createElement('button');
    b.type = 'button';
    b.textContent = label;
    if (extra) Object.keys(extra).forEach(function (k) { b.setAttribute(k, extra[k]); });
    b.addEventListener('click', onClick);
    return b;
  }

  // Which control of which row has the focus, to give it back after the table is rebuilt.
  function focused() {
    var el = document.activeElement;
    var row = el && el.closest ? el.closest('tr[data-id]') : null;
    return row ? { id: row.dataset.id, role: el.dataset.role } : null;
  }

  function render() {
    var keep = focused();
    var rows = $('rows');
    rows.textContent = '';
    rows.removeAttribute('aria-busy');
    sorted().forEach(function (b, index, all) {
      var tr = document.createElement('tr');
      tr.dataset.id = b.id;
      tr.draggable = !b.pending;
      if (b.pending) tr.className = 'pending';
      var temp = String(b.id).indexOf('pending-') === 0;
      var handle = button('⋮⋮', function () {}, { 'aria-label': 'Move ' + b.title + ' (Alt+Up / Alt+Down)', class: 'handle', 'data-role': 'handle' });
      handle.disabled = temp;
      handle.addEventListener('keydown', function (event) {
        if (!event.altKey || (event.key !== 'ArrowUp' && event.key !== 'ArrowDown')) return;
        event.preventDefault();
        var to = index + (event.key === 'ArrowUp' ? -1 : 1);
        if (to >= 0 && to < all.length) move(b.id, to, true);
      });
      cell(tr, handle);
      var img = document.createElement('img');
      img.className = 'thumb';
      img.alt = '';
      img.src = b.previewUrl || b.imageUrl;
      cell(tr, img);
      cell(tr, b.title).className = 'title';
      cell(tr, windowText(b));
      var toggle = document.createElement('input');
      toggle.type = 'checkbox';
      toggle.checked = b.isActive;
      toggle.disabled = !!b.pending;
      toggle.dataset.role = 'toggle';
      toggle.setAttribute('aria-label', 'Active: ' + b.title);
      toggle.addEventListener('change', function () { setActive(b.id, toggle.checked); });
      cell(tr, toggle);
      var actions = document.createElement('span');
      if (!temp) {
        actions.appendChild(button('Edit', function () { openEditor(b.id); }, { 'aria-label': 'Edit ' + b.title, 'data-role': 'edit' }));
        actions.appendChild(document.createTextNode(' '));
        actions.appendChild(button('Delete', function () { remove(b.id); }, { 'aria-label': 'Delete ' + b.title, 'data-role': 'delete' }));
      }
      cell(tr, actions);
      tr.addEventListener('dragstart', function (event) {
        tr.classList.add('dragging');
        event.dataTransfer.setData('text/plain', b.id);
      });
      tr.addEventListener('dragend', function () { tr.classList.remove('dragging'); });
      tr.addEventListener('dragover', function (event) { event.preventDefault(); });
      tr.addEventListener('drop', function (event) {
        event.preventDefault();
        var moved = event.dataTransfer.getData('text/plain');
        if (moved && moved !== b.id) move(moved, index, false);
      });
      rows.appendChild(tr);
    });
    if (keep) {
      var again = document.querySelector('tr[data-id="' + keep.id + '"] [data-role="' + keep.role + '"]');
      if (again) again.focus();
    }
  }

  // Applies `change` at once; on failure `undo` takes back just that change (other changes made
  // meanwhile stay) and the server's message is shown.
  function optimistic(change, request, what, undo) {
    change();
    render();
    return request().catch(function (error) {
      if (error.signedOut) throw error;
      undo();
      render();
      notice(what + ' failed: ' + error.message, true);
      throw error;
    });
  }

  function copy(b) { return Object.assign({}, b); }

  function find(id) { return state.banners.filter(function (b) { return b.id === id; })[0]; }

  // Puts a server copy in the table (never one the table knows is deleted).
  function upsert(banner) {
    if (state.gone[banner.id]) return;
    var existing = find(banner.id);
    if (existing) {
      Object.assign(existing, banner, { pending: false });
      delete existing.previewUrl;
    } else {
      state.banners.push(banner);
    }
  }

  function setActive(id, active) {
    var row = find(id);
    if (!row) return;
    optimistic(function () { row.isActive = active; row.pending = true; },
      function () {
        return gql('mutation($id: ID!, $a: Boolean!) { setHeroBannerActive(id: $id, active: $a) { ' + FIELDS + ' } }', { id: id, a: active })
          .then(function (d) { upsert(d.setHeroBannerActive); render(); });
      }, 'Turning the banner ' + (active ? 'on' : 'off'),
      function () { row.isActive = !active; row.pending = false; }).catch(function () {});
  }

  function remove(id) {
    var b = find(id);
    if (!b || !window.confirm('Delete the banner "' + b.title + '"?')) return;
    optimistic(function () {
      state.gone[id] = true;
      state.banners = state.banners.filter(function (x) { return x.id !== id; });
    }, function () { return gql('mutation($id: ID!) { deleteHeroBanner(id: $id) }', { id: id }); },
    'Deleting the banner', function () {
      delete state.gone[id];
      if (!find(id)) state.banners.push(b);
    }).catch(function () {});
  }

  function move(id, to, keepFocus) {
    var order = sorted();
    var from = order.findIndex(function (b) { return b.id === id; });
    if (from < 0 || from === to) return;
    var before = order.map(function (b) { return [b, b.sortOrder]; });
    optimistic(function () {
      var moved = order.splice(from, 1)[0];
      order.splice(to, 0, moved);
      order.forEach(function (b, i) { b.sortOrder = i; });
    }, function () {
      var changes = order.filter(function (b) { return String(b.id).indexOf('pending-') !== 0; })
        .map(function (b) { return { id: b.id, sortOrder: b.sortOrder }; });
      return gql('mutation($c: [HeroBannerBatchChange!]!) { updateHeroBanners(changes: $c) { id sortOrder } }', { c: changes });
    }, 'Reordering', function () {
      before.forEach(function (pair) { pair[0].sortOrder = pair[1]; });
    }).catch(function () {});
    if (keepFocus) {
      var row = document.querySelector('tr[data-id="' + id + '"] .handle');
      if (row) row.focus();
    }
  }

  // ---- The editor ---------------------------------------------------------------------------
  function localValue(iso) {
    if (!iso) return '';
    var d = new Date(iso);
    var pad = function (n) { return String(n).padStart(2, '0'); };
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + 'T' + pad(d.getHours()) + ':' + pad(d.getMinutes());
  }

  function fill(b) {
    $('f-title').value = b ? b.title : '';
    $('f-subtitle').value = b && b.subtitle ? b.subtitle : '';
    $('f-image-url').value = b ? b.imageUrl : '';
    $('f-link').value = b && b.linkUrl ? b.linkUrl : '';
    $('f-cta').value = b && b.ctaText ? b.ctaText : '';
    $('f-starts').value = localValue(b && b.startsAt);
    $('f-ends').value = localValue(b && b.endsAt);
    $('f-active').checked = b ? b.isActive : true;
    $('f-image').value = '';
    $('f-preview').hidden = !(b && b.imageUrl);
    if (b && b.imageUrl) $('f-preview').src = b.imageUrl;
  }

  function setEditorLoading(loading) {
    $('editor-skeleton').hidden = !loading;
    Array.prototype.forEach.call($('banner-form').elements, function (el) {
      if (el.id !== 'cancel-edit') el.disabled = loading;
    });
  }

  function openEditor(id) {
    state.editing = id || null;
    $('form-error').hidden = true;
    $('editor-title').textContent = id ? 'Edit banner' : 'New banner';
    fill(null);
    $('editor').showModal();
    if (!id) return $('f-title').focus();
    // The latest copy, with a skeleton while it loads.
    setEditorLoading(true);
    gql('query($id: ID!) { node(id: $id) { ... on AdminHeroBanner { ' + FIELDS + ' } } }', { id: id }).then(function (data) {
      if (state.editing !== id) return; // closed, or another banner opened meanwhile
      setEditorLoading(false);
      fill(data.node || find(id));
      $('f-title').focus();
    }, function (error) {
      if (state.editing !== id) return;
      setEditorLoading(false);
      fill(find(id));
      $('form-error').textContent = error.message;
      $('form-error').hidden = false;
    });
  }

  function closeEditor() {
    $('editor').close();
    state.editing = null;
  }

  $('new-banner').addEventListener('click', function () { openEditor(null); });
  $('cancel-edit').addEventListener('click', closeEditor);
  // Esc closes the dialog too.
  $('editor').addEventListener('close', function () {
    state.editing = null;
    setEditorLoading(false);
  });

  $('f-image').addEventListener('change', function () {
    var file = $('f-image').files[0];
    $('form-error').hidden = true;
    if (!file) return;
    var problem = IMAGE_TYPES.indexOf(file.type) < 0 ? 'The image must be a JPEG, PNG, WebP or AVIF file.'
      : file.size > MAX_IMAGE_BYTES ? 'The image is larger than 5 MB.' : null;
    if (problem) {
      $('f-image').value = '';
      $('form-error').textContent = problem;
      $('form-error').hidden = false;
      return;
    }
    if (state.previewUrl) URL.revokeObjectURL(state.previewUrl);
    state.previewUrl = URL.createObjectURL(file);
    $('f-preview').src = state.previewUrl;
    $('f-preview').hidden = false;
  });

  function iso(value) { return value ? new Date(value).toISOString() : null; }

  $('banner-form').addEventListener('submit', function (event) {
    event.preventDefault();
    var input = {
      title: $('f-title').value.trim(),
      subtitle: $('f-subtitle').value.trim() || null,
      imageUrl: $('f-image-url').value.trim(),
      linkUrl: $('f-link').value.trim() || null,
      ctaText: $('f-cta').value.trim() || null,
      startsAt: iso($('f-starts').value),
      endsAt: iso($('f-ends').value),
      isActive: $('f-active').checked,
    };
    var file = $('f-image').files[0];
    if (!input.title || (!input.imageUrl && !file)) {
      $('form-error').textContent = 'A title and an image are required.';
      $('form-error').hidden = false;
      return;
    }
    var id = state.editing;
    var preview = file ? state.previewUrl : null;
    closeEditor();
    notice('');
    var imageReady = file ? upload(file) : Promise.resolve(input.imageUrl);
    if (id) {
      var row = find(id);
      if (!row) return notice('The banner was deleted meanwhile.', true);
      var old = copy(row);
      optimistic(function () {
        Object.assign(row, input, { pending: true, previewUrl: preview || undefined });
      }, function () {
        return imageReady.then(function (url) {
          input.imageUrl = url;
          return gql('mutation($id: ID!, $i: UpdateHeroBannerInput!) { updateHeroBanner(id: $id, input: $i) { ' + FIELDS + ' } }', { id: id, i: input });
        }).then(function (d) { upsert(d.updateHeroBanner); render(); });
      }, 'Saving the banner', function () {
        Object.keys(row).forEach(function (k) { delete row[k]; });
        Object.assign(row, old);
      }).catch(function () {});
    } else {
      var temp = 'pending-' + (++tempIds);
      var last = sorted().slice(-1)[0];
      input.sortOrder = last ? last.sortOrder + 1 : 0;
      optimistic(function () {
        state.banners.push(Object.assign({ id: temp, pending: true, previewUrl: preview, isLive: false }, input));
      }, function () {
        return imageReady.then(function (url) {
          input.imageUrl = url;
          return gql('mutation($i: CreateHeroBannerInput!) { createHeroBanner(input: $i) { ' + FIELDS + ' } }', { i: input });
        }).then(function (d) {
          state.banners = state.banners.filter(function (b) { return b.id !== temp; });
          upsert(d.createHeroBanner);
          render();
        });
      }, 'Creating the banner', function () {
        state.banners = state.banners.filter(function (b) { return b.id !== temp; });
      }).catch(function () {});
    }
  });

  // ---- Live updates -------------------------------------------------------------------------
  function connection(text, kind) {
    var el = $('connection');
    el.textContent = text;
    el.className = 'connection ' + (kind || '');
  }

  function activity(text) {
    var li = document.createElement('li');
    li.textContent = new Date().toLocaleTimeString() + ' — ' + text;
    var list = $('activity');
    list.insertBefore(li, list.firstChild);
    while (list.children.length > 20) list.removeChild(list.lastChild);
  }

  function disconnect() {
    clearTimeout(state.retryTimer);
    if (state.socket) {
      state.socket.onclose = null;
      state.socket.close(1000);
      state.socket = null;
    }
  }

  // Refetches only the banners an event names.
  function refresh(ids) {
    if (!ids.length) return;
    gql('query($ids: [ID!]!) { nodes(ids: $ids) { ... on AdminHeroBanner { ' + FIELDS + ' } } }', { ids: ids }).then(function (data) {
      data.nodes.forEach(function (node, i) {
        var mine = find(ids[i]);
        if (mine && mine.pending) return; // its own answer updates it
        if (node && node.id) upsert(node);
        else state.banners = state.banners.filter(function (b) { return b.id !== ids[i]; });
      });
      render();
    }, function () {});
  }

  var SUBSCRIPTIONS = {
    banners: 'subscription { bannerUpdated { bannerId ids action } }',
    products: 'subscription { productUpdated { productId action } }',
    orders: 'subscription { orderUpdated { orderId status } }',
  };

  function connect() {
    disconnect();
    connection('Connecting…');
    var scheme = window.location.protocol === 'https:' ? 'wss://' : 'ws://';
    var socket = new WebSocket(scheme + window.location.host + '/graphql/ws', 'graphql-transport-ws');
    var resubscribe = {};
    state.socket = socket;
    socket.onopen = function () {
      socket.send(JSON.stringify({ type: 'connection_init', payload: { Authorization: 'Bearer ' + token() } }));
    };
    socket.onmessage = function (event) {
      var message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      if (message.type === 'connection_ack') {
        var wasRetrying = state.retry > 0;
        state.retry = 0;
        connection('Live', 'live');
        Object.keys(SUBSCRIPTIONS).forEach(function (id) {
          socket.send(JSON.stringify({ id: id, type: 'subscribe', payload: { query: SUBSCRIPTIONS[id] } }));
        });
        // Events may have been missed while disconnected.
        if (wasRetrying) load();
      } else if (message.type === 'ping') {
        socket.send(JSON.stringify({ type: 'pong' }));
      } else if (message.type === 'next' && message.payload && message.payload.errors) {
        var first = message.payload.errors[0] || {};
        var code = first.extensions && first.extensions.code;
        if (code === 'FORBIDDEN' || code === 'UNAUTHENTICATED') {
          activity('No live ' + message.id + ' events for your role');
        } else {
          // Fell behind (or another failure): reload what is shown and subscribe again.
          activity('Live ' + message.id + ' events interrupted; reloading');
          if (message.id === 'banners') load();
          resubscribe[message.id] = true;
        }
      } else if (message.type === 'complete') {
        if (resubscribe[message.id]) {
          delete resubscribe[message.id];
          socket.send(JSON.stringify({ id: message.id, type: 'subscribe', payload: { query: SUBSCRIPTIONS[message.id] } }));
        }
      } else if (message.type === 'next' && message.payload && message.payload.data) {
        var data = message.payload.data;
        if (data.bannerUpdated) {
          var e = data.bannerUpdated;
          activity('Banner ' + e.action.toLowerCase() + (e.ids.length > 1 ? ' (' + e.ids.length + ' banners)' : ''));
          if (e.action === 'DELETED') {
            e.ids.forEach(function (id) { state.gone[id] = true; });
            state.banners = state.banners.filter(function (b) { return e.ids.indexOf(b.id) < 0; });
            render();
          } else {
            refresh(e.ids);
          }
        } else if (data.productUpdated) {
          activity('Product ' + data.productUpdated.action.toLowerCase());
        } else if (data.orderUpdated) {
          activity('Order now ' + data.orderUpdated.status.toLowerCase());
        }
      } else if (message.type === 'error') {
        activity('Live ' + message.id + ' events refused by the server');
      }
    };
    socket.onclose = function (event) {
      state.socket = null;
      if (event.code === 4401) return signOut('Your session has expired. Please sign in again.');
      if (event.code === 4403) return connection('Live updates not allowed for this account', 'down');
      // Reconnect with backoff: 1 s, 2 s, 4 s … at most 30 s.
      var delay = Math.min(30, Math.pow(2, state.retry));
      state.retry += 1;
      connection('Reconnecting in ' + delay + ' s…', 'down');
      state.retryTimer = setTimeout(connect, delay * 1000);
    };
  }

  if (token()) start(); else showView('login');
})();
