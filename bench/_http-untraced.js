'use strict';
/** `bench/http.js` variant `untraced`: the app alone. */
require('./_http-app').serve();
