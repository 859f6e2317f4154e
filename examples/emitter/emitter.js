// emitter.js: a small order service written with Node's EventEmitter.
// emitter.c is its port to weir, step for step; both print the same
// lines (examples/emitter/compare.sh checks it).
'use strict';
const EventEmitter = require('node:events');

const shop = new EventEmitter();

function stock(order) { console.log(`stock: reserved for ${order}`); }
function mail(order) { console.log(`mail: order ${order} confirmed`); }
function audit(order) { console.log(`audit: ${order} logged`); }
function welcome(order) { console.log(`welcome: ${order} is the first order`); }
function dropMail() {
  shop.off('order.created', mail);
  console.log('cleanup: mail removed');
}
function pay(amount) {
  if (Number(amount) <= 0) {
    // The component reports its failure on 'error'; with no 'error'
    // listener, emit('error') throws, out of this listener and out of
    // the emit that called it.
    const err = new Error('invalid argument');
    shop.emit('error', Object.assign(err, { event: 'order.paid', amount }));
    return;
  }
  console.log(`pay: ${amount} taken`);
}
function onError(err) {
  console.log(`error: ${err.event} ${err.amount}: ${err.message}`);
}

// emit() answers whether anybody listened; a throwing listener ends it.
function emitShow(event, arg) {
  try {
    console.log(`emit ${event} ${arg} -> ${shop.emit(event, arg)}`);
  } catch (err) {
    console.log(`emit ${event} ${arg} threw: ${err.message}`);
  }
}

function count(event) {
  console.log(`listeners of ${event}: ${shop.listenerCount(event)}`);
}

// on, prependListener, once: the order of calls.
shop.on('order.created', mail);
shop.on('order.created', audit);
shop.prependListener('order.created', stock);
shop.once('order.created', welcome);
count('order.created');
emitShow('order.created', 'A-1');
count('order.created');

// off; and a listener removed during an emit is still called by that
// emit (the list was copied when the emit began), not by the next.
shop.off('order.created', audit);
emitShow('order.created', 'A-2');
shop.prependOnceListener('order.created', dropMail);
emitShow('order.created', 'A-3');
emitShow('order.created', 'A-4');
count('order.created');
emitShow('order.cancelled', 'A-4');

// The 'error' event.
shop.on('order.paid', pay);
emitShow('order.paid', '25');
emitShow('order.paid', '-5');
shop.on('error', onError);
emitShow('order.paid', '-5');
count('order.paid');
